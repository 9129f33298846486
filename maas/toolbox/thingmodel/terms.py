"""Chinese industrial terms -> English identifier words.

Identifiers must be ASCII (TSL, code generators, time-series columns). Pinyin makes them
unreadable to most integrators ("shu_chu_pin_lv"), so Chinese names are translated word by
word from this table (longest match first); a name it cannot cover completely gets a neutral
`prop_<n>` instead of a half-translated guess.
"""

from __future__ import annotations

TERMS: dict[str, str] = {
    # devices
    "变频器": "vfd", "传感器": "sensor", "温湿度": "temperature_humidity", "电表": "meter",
    "电能表": "energy_meter", "仪表": "meter", "数控": "cnc", "主轴": "spindle", "电机": "motor",
    "电动机": "motor", "驱动器": "drive", "设备": "device", "三相": "three_phase",
    "多功能": "multifunction",
    "网关": "gateway", "控制器": "controller", "泵": "pump", "风机": "fan", "阀": "valve",
    # electrical
    "输出": "output", "输入": "input", "频率": "frequency", "电流": "current", "电压": "voltage",
    "直流": "dc", "交流": "ac", "母线": "bus", "功率因数": "power_factor", "功率": "power",
    "有功": "active", "无功": "reactive", "视在": "apparent", "电能": "energy", "电量": "level",
    "A相": "phase_a", "B相": "phase_b", "C相": "phase_c", "相": "phase", "线": "line",
    "总": "total", "正向": "forward", "反向": "reverse", "需量": "demand", "谐波": "harmonic",
    "畸变率": "distortion", "电力": "power", "变比": "ratio", "限制": "limit",
    "偏差": "deviation", "编码器": "encoder", "分辨率": "resolution", "不平衡度": "unbalance",
    "零序": "zero_sequence", "额定": "rated",
    "绝缘": "insulation", "电阻": "resistance", "接地": "ground", "漏电": "leakage",
    # mechanical / process
    "转速": "speed", "速度": "speed", "转矩": "torque", "扭矩": "torque", "负载率": "load",
    "负载": "load", "负荷": "load", "轴承": "bearing", "振动": "vibration",
    "加速度": "acceleration",
    "位移": "displacement", "刀具": "tool", "夹紧": "clamp", "松开": "unclamp", "松刀": "unclamp",
    "状态": "state", "位置": "position", "进给": "feed", "倍率": "override", "润滑": "lubrication",
    "冷却液": "coolant", "冷却": "cooling", "压力": "pressure", "流量": "flow", "液位": "level",
    "温度": "temperature", "湿度": "humidity", "露点": "dew_point", "气压": "air_pressure",
    "散热器": "heatsink", "模块": "module", "绕组": "winding", "油": "oil", "水": "water",
    "电池": "battery", "信号": "signal", "强度": "strength", "方向": "direction",
    # control & states
    "运行": "run", "运转": "run", "停止": "stop", "停机": "stop", "启动": "start", "起动": "start",
    "复位": "reset", "故障": "fault", "报警": "alarm", "告警": "alarm", "预警": "warning",
    "代码": "code", "码": "code", "编号": "number", "地址": "address", "加速": "acceleration",
    "减速": "deceleration", "时间": "time", "设定值": "setpoint", "设定": "setpoint",
    "给定": "reference", "目标": "target", "实际": "actual", "指令": "command", "命令": "command",
    "控制": "control", "模式": "mode", "正转": "forward", "反转": "reverse", "点动": "jog",
    "急停": "emergency_stop", "紧急": "emergency", "上报": "report", "间隔": "interval",
    "周期": "period", "阈值": "threshold", "门限": "threshold", "上限": "high", "下限": "low",
    "高": "high", "低": "low", "最大": "max", "最小": "min", "平均": "average", "累计": "total",
    "累积": "total", "计数": "count", "次数": "count", "寿命": "life", "剩余": "remaining",
    "校准": "calibration", "零点": "zero", "清零": "clear", "读数": "reading", "值": "value",
    "过流": "overcurrent", "过电流": "overcurrent", "过压": "overvoltage", "过电压": "overvoltage",
    "欠压": "undervoltage", "欠电压": "undervoltage", "过热": "overheat", "过温": "overtemperature",
    "过载": "overload", "缺相": "phase_loss", "短路": "short_circuit", "超限": "limit_exceeded",
    "异常": "abnormal", "失败": "failure", "完成": "complete", "就绪": "ready", "在线": "online",
    "离线": "offline", "开关": "switch", "通信": "communication", "波特率": "baud_rate",
    "版本": "version", "固件": "firmware", "序列号": "serial_number", "型号": "model",
    "名称": "name", "电平": "level", "开": "on", "关": "off", "和": "and", "与": "and",
    "及": "and", "数据": "data", "记录": "record", "参数": "parameter", "恢复": "restore",
    "出厂": "factory", "同步": "sync", "时钟": "clock", "示数": "reading",
}
#: Characters that carry no meaning in an identifier ("的" in "电机的温度").
FILLERS = frozenset("的之")
